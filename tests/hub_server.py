"""A loopback HTTP server that speaks enough of the Hugging Face Hub protocol for the real client (see
shared/reference/hub-protocol.md): file resolve (HEAD/GET, pinned or branch revisions, error codes), repo
creation, preupload and NDJSON commits. It records every request, and can corrupt or truncate a file."""

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHub:
    def __init__(self):
        self.repos = {}  # repo_id -> {"main": commit, commits: {commit: {path: bytes}}}
        self.requests = []
        self.corrupt = set()  # (repo_id, path): serve altered bytes of the same size
        self.truncate = set()  # (repo_id, path): announce the full size, send half
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def commit(self, repo_id, files):
        """Adds a commit with `files` {path: bytes} on top of main; returns its 40-hex id."""
        repo = self.repos.setdefault(repo_id, {"main": None, "commits": {}})
        base = dict(repo["commits"].get(repo["main"], {}))
        base.update(files)
        oid = hashlib.sha1(repr((repo_id, len(repo["commits"]), sorted(base))).encode()).hexdigest()
        repo["commits"][oid] = base
        repo["main"] = oid
        return oid

    def _handler(hub):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, code, body=b"", headers=None, declared_length=None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body) if declared_length is None else declared_length))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, obj, code=200):
                self._send(code, json.dumps(obj).encode(), {"Content-Type": "application/json"})

            def _resolve(self):
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._send(404, headers={"X-Error-Code": "RepoNotFound"})
                repo_id, revision, path = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                repo = hub.repos.get(repo_id)
                if repo is None:
                    return self._send(404, headers={"X-Error-Code": "RepoNotFound"})
                commit = repo["main"] if revision == "main" else revision
                if commit not in repo["commits"]:
                    return self._send(404, headers={"X-Error-Code": "RevisionNotFound"})
                files = repo["commits"][commit]
                if path not in files:
                    return self._send(404, headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit})
                data = files[path]
                etag = hashlib.sha256(data).hexdigest()
                declared = len(data)
                if (repo_id, path) in hub.corrupt:
                    data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
                    etag = hashlib.sha256(data).hexdigest()
                if (repo_id, path) in hub.truncate and self.command == "GET":
                    self._send(200, data[: len(data) // 2], {"X-Repo-Commit": commit, "ETag": f'"{etag}"'}, declared)
                    self.close_connection = True
                    return
                self._send(200, data, {"X-Repo-Commit": commit, "ETag": f'"{etag}"'}, declared)

            def do_HEAD(self):
                hub.requests.append(("HEAD", self.path))
                self._resolve()

            def do_GET(self):
                hub.requests.append(("GET", self.path))
                self._resolve()

            def do_POST(self):
                hub.requests.append(("POST", self.path))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    req = json.loads(body)
                    repo_id = f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
                    hub.repos.setdefault(repo_id, {"main": None, "commits": {}})
                    return self._json({"url": f"{hub.endpoint}/{repo_id}"})
                if path == "/api/validate-yaml":
                    return self._json({"warnings": [], "errors": []})
                if "/preupload/" in path:
                    files = json.loads(body)["files"]
                    return self._json(
                        {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
                    )
                if "/commit/" in path:
                    repo_id = path.split("/api/models/")[1].split("/commit/")[0]
                    files = {}
                    for line in body.decode().splitlines():
                        item = json.loads(line)
                        if item.get("key") == "file":
                            files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    oid = hub.commit(repo_id, files)
                    return self._json({"commitUrl": f"{hub.endpoint}/{repo_id}/commit/{oid}", "commitOid": oid})
                self._send(404, headers={"X-Error-Code": "RepoNotFound"})

        return Handler
