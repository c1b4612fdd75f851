import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# `match` statements are a syntax error before 3.10.
collect_ignore = ["test_match_py310.py"] if sys.version_info < (3, 10) else []
