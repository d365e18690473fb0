"""Example command plugins to copy. The bot loads this folder by path when it runs from the folder
that holds it (a clone of this project, the sandbox, a workshop); an installed bot brings only the
built-in commands of ``bot.builtins``."""
