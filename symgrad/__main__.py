"""``python -m symgrad``."""
from .cli import run

run()
