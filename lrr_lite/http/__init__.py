"""The HTTP side: the app and its plugin, authentication, the API routes, the web pages."""
