"""The Flask app: its greeting comes from config.json (written by gen-config)."""
import json
import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    with open(os.path.join(os.path.dirname(__file__), "config.json")) as f:
        config = json.load(f)
    return f"{config['greeting']}!\n"
