"""Built-in command plugins. Every module here is loaded at start; copy one to write your own."""
