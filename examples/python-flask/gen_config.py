"""Writes config.json for the app (only when its content changes, so an
unchanged run does not touch the image's context)."""
import json
import os

CONFIG = {"greeting": "Hello from Flask", "generated_by": "gen-config"}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.json")
text = json.dumps(CONFIG, indent=2) + "\n"
try:
    with open(path) as f:
        unchanged = f.read() == text
except FileNotFoundError:
    unchanged = False
if not unchanged:
    with open(path, "w") as f:
        f.write(text)
print(f"config.json {'unchanged' if unchanged else 'written'}")
