"""ami_peer.py — a stand-in for Asterisk's Manager Interface (Asterisk is not packaged for
Debian 12). A stdlib TCP server on 127.0.0.1 that speaks the AMI wire protocol: banner,
Login (Username/Secret checked, Events recorded), Ping, Logoff, and then replays scripted
event packets, one script per connection, so a test can drop the connection in the middle
of a packet and see the client reconnect.

    peer = AmiPeer(sessions=[[pkt1, pkt2, DROP_HALF], [pkt3]], user="crmreader", secret="s3cret")
    peer.start(); ...; peer.stop()

Each session is a list of packets (dicts or raw strings); the marker DROP closes the
connection after the previous packet, DROP_HALF sends half of the next packet and closes.
After the last script the connection stays open with no more events.
"""
import socket
import threading
import time

DROP = object()
DROP_HALF = object()


def packet(fields):
    """Renders a dict (or list of pairs) as one AMI packet with CRLF line ends."""
    items = fields.items() if isinstance(fields, dict) else fields
    return "".join("%s: %s\r\n" % kv for kv in items) + "\r\n"


class AmiPeer:
    def __init__(self, sessions, user="crmreader", secret="s3cret", version="9.0.0"):
        self.sessions = list(sessions)
        self.user = user
        self.secret = secret
        self.version = version
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.logins = []  # dicts of the Login packets received
        self.actions = []  # every action name received
        self.connect_times = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._clients = []

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        for c in self._clients:
            try:
                c.close()
            except OSError:
                pass
        self._thread.join(timeout=5)

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._clients.append(conn)
            idx = self.connections
            self.connections += 1
            self.connect_times.append(time.time())
            script = self.sessions[idx] if idx < len(self.sessions) else []
            threading.Thread(target=self._session, args=(conn, script), daemon=True).start()

    @staticmethod
    def _read_packet(conn, buf):
        while b"\r\n\r\n" not in buf[0]:
            data = conn.recv(4096)
            if not data:
                return None
            buf[0] += data
        raw, buf[0] = buf[0].split(b"\r\n\r\n", 1)
        out = {}
        for line in raw.decode().split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                out[k.strip()] = v.strip()
        return out

    def _session(self, conn, script):
        buf = [b""]
        try:
            conn.settimeout(10)
            conn.sendall(("Asterisk Call Manager/%s\r\n" % self.version).encode())
            login = self._read_packet(conn, buf)
            if login is None:
                return
            self.actions.append(login.get("Action"))
            self.logins.append(login)
            aid = login.get("ActionID", "")
            if login.get("Username") != self.user or login.get("Secret") != self.secret:
                conn.sendall(packet([("Response", "Error"), ("ActionID", aid),
                                     ("Message", "Authentication failed")]).encode())
                conn.close()
                return
            conn.sendall(packet([("Response", "Success"), ("ActionID", aid),
                                 ("Message", "Authentication accepted")]).encode())
            # FullyBooted is written directly: no Timestamp line.
            conn.sendall(packet([("Event", "FullyBooted"), ("Privilege", "system,all"),
                                 ("Uptime", "86400"), ("LastReload", "3600"),
                                 ("Status", "Fully Booted")]).encode())
            half = False
            for item in script:
                if item is DROP:
                    conn.close()
                    return
                if item is DROP_HALF:
                    half = True
                    continue
                text = item if isinstance(item, str) else packet(item)
                data = text.encode()
                if half:
                    conn.sendall(data[:len(data) // 2])
                    time.sleep(0.05)
                    conn.close()
                    return
                # Send in two pieces to exercise partial reads on the client.
                conn.sendall(data[:7])
                time.sleep(0.002)
                conn.sendall(data[7:])
            # Keep the connection: answer Ping and Logoff until the client leaves.
            conn.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    pkt = self._read_packet(conn, buf)
                except socket.timeout:
                    continue
                if pkt is None:
                    return
                self.actions.append(pkt.get("Action"))
                if pkt.get("Action") == "Ping":
                    conn.sendall(packet([("Response", "Success"), ("Ping", "Pong"),
                                         ("ActionID", pkt.get("ActionID", ""))]).encode())
                elif pkt.get("Action") == "Logoff":
                    conn.sendall(packet([("Response", "Goodbye"),
                                         ("Message", "Thanks for all the fish.")]).encode())
                    conn.close()
                    return
        except OSError:
            pass
