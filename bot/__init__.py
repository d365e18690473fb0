"""A framework for Webex bots that run from a laptop inside a firewall."""
