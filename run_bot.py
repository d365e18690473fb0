#!/usr/bin/env python3
"""Run the bot: ``python run_bot.py --help`` lists the options."""
import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
