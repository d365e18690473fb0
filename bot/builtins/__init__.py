"""The commands every bot has (``help``, ``echo``, ``whoami``), written as plugins like any other.

They use only what ``from bot import ...`` gives, so each is also an example of the public surface.
"""
