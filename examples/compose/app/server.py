"""A tiny HTTP app: serves the message it read at startup, so a changed
message.txt shows only after the container restarts (restart_container())."""
import http.server
import os
import signal
import sys

# As PID 1 in its container, Python ignores SIGTERM unless asked: stop promptly.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

with open(os.path.join(os.path.dirname(__file__), "message.txt")) as f:
    MESSAGE = f.read()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = MESSAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


print(f"compose-app serving {MESSAGE.strip()!r} on :8000 (cache at {os.environ.get('CACHE_URL')})", flush=True)
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
