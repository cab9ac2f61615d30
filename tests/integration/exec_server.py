#!/usr/bin/env python3
"""Servers that hand each connection to a program they exec (run under the
shim by test_shim_exec.sh):
  inetd PORT   accept, fork; the child dup2()s the socket onto stdin and
               stdout, closes the rest and execs `cat`
  popen PORT   accept; subprocess.Popen(echo child, pass_fds=[fd]); the
               parent closes its copy and reaps the child
  child FD     (the program popen execs) echo everything on socket FD until
               EOF, then close it
  spawn PORT   accept, send "x", start a long-lived program that inherits
               nothing (subprocess.Popen, close_fds), close the connection:
               the peer must see EOF at once, not when the program exits
  pspawn PORT  accept; os.posix_spawn() `cat` with file actions that dup2()
               the socket onto its stdin and stdout (Python's sockets are
               close-on-exec: the child gets only those two); the parent
               closes its copy at once
  pspawn_none PORT  as spawn, but the long-lived program is started with
               os.posix_spawnp() and no file actions"""
import os, signal, socket, subprocess, sys

def serve(port, handle):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(16)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        handle(ls, c)

def inetd(ls, c):
    pid = os.fork()
    if pid == 0:
        ls.close()
        os.dup2(c.fileno(), 0)
        os.dup2(c.fileno(), 1)
        c.close()
        os.execvp("cat", ["cat"])
    c.close()
    while True:  # reap what has exited, never block
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break

children = []
def popen(ls, c):
    p = subprocess.Popen([sys.executable, __file__, "child", str(c.fileno())],
                         pass_fds=[c.fileno()])
    c.close()
    children.append(p)
    for q in children[:]:
        if q.poll() is not None:
            children.remove(q)

def spawn(ls, c):
    c.sendall(b"x")
    children.append(subprocess.Popen(["sleep", "20"]))
    c.close()

spawned = []
def reap_spawned():
    for pid in spawned[:]:
        if os.waitpid(pid, os.WNOHANG)[0]:
            spawned.remove(pid)

def pspawn(ls, c):
    spawned.append(os.posix_spawnp("cat", ["cat"], os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, c.fileno(), 0), (os.POSIX_SPAWN_DUP2, c.fileno(), 1)]))
    c.close()
    reap_spawned()

def pspawn_none(ls, c):
    c.sendall(b"x")
    spawned.append(os.posix_spawnp("sleep", ["sleep", "20"], os.environ))
    c.close()

def end_children(*_):
    for pid in spawned:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    for q in children:
        q.kill()
        q.wait()
    sys.exit(0)

def child(fd):
    s = socket.socket(fileno=fd)
    while True:
        b = s.recv(65536)
        if not b:
            break
        s.sendall(b)
    s.close()

mode = sys.argv[1]
if mode == "child":
    child(int(sys.argv[2]))
else:
    signal.signal(signal.SIGTERM, end_children)
    serve(int(sys.argv[2]), {"inetd": inetd, "popen": popen, "spawn": spawn, "pspawn": pspawn,
                            "pspawn_none": pspawn_none}[mode])
