"""Reading archives and decoding images, within memory limits."""
