#!/usr/bin/env python3
"""Test-side endpoints for the GCP and Azure key-service tests (run inside the test's network
namespace, beside ../shared/tools/kms/*-fake.py, which are the services themselves):

  token PORT PUBKEY   OAuth token endpoint + GCE metadata server + Azure IMDS/authority:
                      - POST .../token with a JWT-bearer grant: the RS256 signature is checked with
                        PUBKEY (PEM); answers {"access_token": "fake-token"}
                      - refresh_token grant with refresh_token=good-refresh, client_credentials with
                        client_secret=right-secret, client_assertion=federated-jwt or a client
                        assertion JWT signed with the PUBKEY's key: "fake-token"; else 401
                        invalid_client (AAD's shape)
                      - token-exchange grant (RFC 8693) with subject_token=federated-jwt,
                        POST /impersonate with that token, GET /subject-token with X-Test: yes
                      - GET /computeMetadata/...token with Metadata-Flavor: Google: "fake-token"
                      - GET /metadata/identity/oauth2/token with Metadata: true: "fake-token"
  status PORT CODE [CERT KEY]   every request answered with HTTP CODE and a JSON error; with CERT/KEY
                      over TLS, and a request without Authorization first gets the bearer challenge
                      (resource https://localhost:PORT), like a vault
  hang PORT           accepts and never answers
  count PORT          accepts, logs "accept", closes
  proxy PORT          an HTTP proxy: CONNECT host:port tunnels to 127.0.0.1:port, an absolute-form
                      request (GET http://host:port/...) goes to 127.0.0.1:port in origin form; logs
                      "proxy METHOD host:port"

Each request is logged to stderr as one line: mode, method, path, grant or the form field names."""
import base64, json, socket, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

mode, port = sys.argv[1], int(sys.argv[2])


def log(*a):
    sys.stderr.write(" ".join(map(str, a)) + "\n")
    sys.stderr.flush()


def b64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Base(BaseHTTPRequestHandler):
    def reply(self, code, obj, hdrs=()):
        b = json.dumps(obj).encode()
        self.send_response(code)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *a):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""


GOOD = {"access_token": "fake-token", "expires_in": 3600, "token_type": "Bearer"}
BAD = {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 0"}


class Token(Base):
    def do_GET(self):
        u = urlparse(self.path)
        if u.path.startswith("/computeMetadata/") and self.headers.get("Metadata-Flavor") == "Google":
            log("token GET metadata")
            return self.reply(200, GOOD)
        if u.path == "/subject-token" and self.headers.get("X-Test") == "yes":
            log("token GET subject")
            return self.reply(200, {"value": "federated-jwt"})
        if u.path == "/metadata/identity/oauth2/token" and self.headers.get("Metadata") == "true":
            log("token GET imds", sorted(parse_qs(u.query)))
            return self.reply(200, dict(GOOD, expires_in="3600"))
        log("token GET refused", u.path)
        self.reply(400, {"error": "bad_request"})

    def do_POST(self):
        raw = self.body().decode()
        if urlparse(self.path).path == "/impersonate":
            ok = self.headers.get("Authorization") == "Bearer fake-token" and json.loads(raw).get("scope")
            log("token POST impersonate", "ok" if ok else "refused")
            return self.reply(200, {"accessToken": "fake-token", "expireTime": "2099-01-01T00:00:00Z"}) if ok else self.reply(403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}})
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        grant = form.get("grant_type", "")
        log("token POST", urlparse(self.path).path, grant, sorted(form))
        ok = False
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = self.jwt_ok(form.get("assertion", ""))
        elif grant == "urn:ietf:params:oauth:grant-type:token-exchange":
            ok = form.get("subject_token") == "federated-jwt" and form.get("audience", "").startswith("//iam.googleapis.com/")
        elif grant == "refresh_token":
            ok = form.get("refresh_token") == "good-refresh"
        elif grant == "client_credentials":
            a = form.get("client_assertion", "")
            ok = form.get("client_secret") == "right-secret" or a == "federated-jwt" or (a.count(".") == 2 and self.jwt_ok(a))
        self.reply(200, GOOD) if ok else self.reply(401, BAD)

    def jwt_ok(self, jwt):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        try:
            h, c, s = jwt.split(".")
            key = serialization.load_pem_public_key(open(sys.argv[3], "rb").read())
            key.verify(b64u(s), (h + "." + c).encode(), padding.PKCS1v15(), hashes.SHA256())
            claims, header = json.loads(b64u(c)), json.loads(b64u(h))
            log("jwt ok", header["alg"], claims["iss"], claims.get("scope") or claims.get("aud"),
                claims["exp"] - claims["iat"], "x5t" if "x5t" in header else "")
            return True
        except Exception as e:
            log("jwt refused", type(e).__name__)
            return False


def status_handler(code, tls):
    class Status(Base):
        def any(self):
            self.body()
            if tls and not self.headers.get("Authorization"):
                log("status challenge", self.command, self.path)
                return self.reply(401, {"error": {"code": "Unauthorized"}}, [("WWW-Authenticate",
                    'Bearer authorization="https://login.microsoftonline.com/t", resource="https://localhost:%d"' % port)])
            log("status", code, self.command, self.path)
            if tls:  # Key Vault's error shape
                err = {"code": "Forbidden" if code == 403 else "InternalError", "message": "the helper answers %d" % code}
            else:  # Google's
                err = {"code": code, "status": "PERMISSION_DENIED" if code == 403 else "INTERNAL", "message": "the helper answers %d" % code}
            self.reply(code, {"error": err})
        do_GET = do_POST = any
    return Status


def proxy_conn(c):
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(1)
        if not d:
            return c.close()
        head += d
    method, target = head.split(b" ")[:2]
    if method == b"CONNECT":
        authority = target.decode()
    else:
        authority = target.decode().split("://", 1)[-1].split("/", 1)[0]
    log("proxy", method.decode(), authority)
    up = socket.create_connection(("127.0.0.1", int(authority.rsplit(":", 1)[1])))
    if method == b"CONNECT":
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    else:  # to the origin in origin form, as proxies send it
        rest = target.split(b"://", 1)[-1]
        path = b"/" + rest.split(b"/", 1)[1] if b"/" in rest else b"/"
        up.sendall(head.replace(target, path, 1))

    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=pipe, args=(c, up), daemon=True).start()
    pipe(up, c)


if mode == "token":
    ThreadingHTTPServer(("127.0.0.1", port), Token).serve_forever()
elif mode == "status":
    tls = len(sys.argv) > 4
    srv = ThreadingHTTPServer(("127.0.0.1", port), status_handler(int(sys.argv[3]), tls))
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()
elif mode == "proxy":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=proxy_conn, args=(c,), daemon=True).start()
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    held = []
    while True:
        c, _ = s.accept()
        log("accept")
        if mode == "hang":
            held.append(c)
        else:
            c.close()
