"""The library's services: plain Python, no HTTP; they raise the errors of lrr_lite.errors."""
