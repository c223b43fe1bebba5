"""The console over HTTPS (http.tls_cert, http.tls_key: PEM files made here with openssl):
the health check and a login answer over TLS with the certificate given, the session cookie
is Secure, Strict-Transport-Security is sent, and plain HTTP on the same port gets no page."""

import http.client
import json
import os
import ssl
import subprocess

from harness import Gateway, TestFailure, free_port, gateway_config, run, wait_until
from web_util import PASSWORDS, hash_password


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    cert, key = os.path.join(env.tmp, "console.crt"), os.path.join(env.tmp, "console.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    cfg = gateway_config("hall-tls", state_dir=env.tmp)
    cfg += ('http = { enabled = true; port = %d; tls_cert = "%s"; tls_key = "%s"; users = ( '
            '{ name = "olga"; role = "operator"; password_hash = "%s"; } ); };\n'
            % (port, cert, key, hash_password(PASSWORDS["olga"])))
    Gateway(env, cfg)
    ctx = ssl.create_default_context(cafile=cert)

    def request(method, path, body=None):
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"} if body is not None else {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def up():
        try:
            return request("GET", "/api/v1/health")
        except (OSError, ssl.SSLError):
            return None

    r, data = wait_until(up, 10, "the console over HTTPS")
    expect(r.status == 200 and json.loads(data)["ok"], "health over TLS: %s" % r.status)
    expect("max-age" in (r.getheader("Strict-Transport-Security") or ""), "no HSTS")
    r, data = request("POST", "/api/v1/login", {"user": "olga", "password": PASSWORDS["olga"]})
    cookie = r.getheader("Set-Cookie") or ""
    expect(r.status == 200 and "Secure" in cookie and "HttpOnly" in cookie,
           "login over TLS: %s %s" % (r.status, cookie))
    # Plain HTTP on the TLS port: no page comes back.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/api/v1/health")
        status = c.getresponse().status
    except (OSError, http.client.HTTPException):
        status = None
    expect(status is None or status >= 400, "plain HTTP answered %s" % status)


if __name__ == "__main__":
    run(main)
