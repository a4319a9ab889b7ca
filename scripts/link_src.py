"""Put src/ on the virtual environment's path and create the `jichitai` command.

Used instead of `pip install -e .` so that setting up needs nothing beyond the hashed lockfile
(an editable install would need build tools that are not in the lock).
"""
import os
import pathlib
import site
import sys

root = pathlib.Path(__file__).resolve().parent.parent
pathlib.Path(site.getsitepackages()[0], "jichitai-src.pth").write_text(str(root / "src") + "\n")
script = pathlib.Path(sys.prefix, "bin", "jichitai")
script.write_text(f"#!{sys.executable}\nfrom jichitai.cli import main\nmain()\n")
script.chmod(0o755)
