"""What the small JSON fixtures share: a quiet handler with a JSON reply, base64url, and the
serve-until-stdin-closes loop (a crashed test run cannot leave a fixture behind for long)."""
import base64, http.server, json, sys, threading, time


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JSONHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(handler, lifetime, **attributes):
    """Binds 127.0.0.1 on a free port, prints it, and serves until stdin closes or `lifetime` ends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    for name, value in attributes.items():
        setattr(server, name, value)
    print(server.server_port, flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stdin_closed = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stdin_closed.set()
    threading.Thread(target=watch_stdin, daemon=True).start()
    stdin_closed.wait(timeout=lifetime)
    server.shutdown()
