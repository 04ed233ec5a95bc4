"""Runs on each SSH host, as ``python -c <this file>``, before any Dask process starts there.

It reads one JSON request on stdin and prints one JSON line: whether this Python
has ``distributed``, how many cores the host has, whether the address the
cluster will listen on belongs to this host, and the private directory it made
for the cluster: the TLS certificates, and a launcher that starts this Python
with the cluster's Dask settings (pointing at those certificates) in its
environment and ends it when its SSH session ends. It also removes the
directories of clusters whose kernel was killed (no process runs from them).
Standard library only: it runs where jupyter_nest is not installed.
"""

import glob
import importlib.util
import json
import os
import shlex
import shutil
import socket
import stat
import sys
import tempfile
import time

PREFIX = "jupyter-nest-ssh-"
# A directory younger than this may belong to a cluster whose processes are still starting.
STALE_AFTER = 60


def _write(path, text, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _launcher(request):
    # mkdtemp makes the directory private (0700); the key files are 0600 inside it.
    directory = tempfile.mkdtemp(prefix=PREFIX)
    lines = ["#!/bin/sh"]
    for variable, value in sorted(request["env"].items()):
        lines.append("export %s=%s" % (variable, shlex.quote(value)))
    for variable, text in sorted(request["tls"].items()):
        path = os.path.join(directory, variable.lower() + ".pem")
        _write(path, text, 0o600)
        lines.append("export %s=%s" % (variable, shlex.quote(path)))
    # sshd passes no signals on (Dask's kill over SSH does nothing), so the end of
    # the session, seen as EOF on stdin, is what stops Python: TERM, and KILL 10 s later if
    # Dask's shutdown stalls. A background job's stdin is /dev/null before its own
    # redirections, hence fd 3; the shell's job reports may hit a closed stderr,
    # hence PIPE ignored.
    lines += [
        "trap '' PIPE",
        "trap 'ended=1' USR1",
        "exec 3<&0",
        '%s "$@" </dev/null 3<&- &' % request["python"],
        "python=$!",
        "{ cat >/dev/null; kill -TERM $python; kill -USR1 $$; } <&3 >/dev/null 2>&1 &",
        "watcher=$!",
        "exec 3<&-",
        "wait $python; status=$?",
        'if [ -n "$ended" ]; then',
        "    n=0",
        "    while kill -0 $python 2>/dev/null && [ $n -lt 10 ]; do sleep 1; n=$((n + 1)); done",
        "    kill -KILL $python 2>/dev/null",
        "    wait $python; status=$?",
        "else",
        "    kill $watcher",
        "fi",
        "exit $status",
    ]
    _write(os.path.join(directory, "python"), "\n".join(lines) + "\n", 0o700)
    return directory


def _sweep():
    """Remove this user's cluster directories that no process runs from: a killed kernel leaves them."""
    if not os.path.isdir("/proc"):
        return
    commands = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                commands.append(f.read())
        except OSError:
            continue
    running = b"\n".join(commands)
    for path in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
                and time.time() - info.st_mtime > STALE_AFTER
                and os.fsencode(os.path.join(path, "python")) not in running):
            shutil.rmtree(path, ignore_errors=True)


def main():
    request = json.loads(sys.stdin.read())
    reply: dict = {"cpus": os.cpu_count() or 1}
    # find it without importing it: importing distributed takes half a second
    if importlib.util.find_spec("distributed") is None:
        reply["import_error"] = "ModuleNotFoundError: No module named 'distributed'"
        print(json.dumps(reply))
        return
    ip = request["ip"]
    try:
        with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as s:
            s.bind((ip, 0))
    except OSError as e:
        reply["bind_error"] = str(e)
        print(json.dumps(reply))
        return
    _sweep()
    reply["dir"] = _launcher(request)
    print(json.dumps(reply))


if __name__ == "__main__":
    main()
