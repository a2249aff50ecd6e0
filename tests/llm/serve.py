#!/usr/bin/env python3
"""tests/llm/serve.py MODEL ALIAS ADDR_FILE - llama.cpp's own HTTP server
(tools/server, compiled into the xllamacpp wheel) on 127.0.0.1, for
tests/llm/start_server.sh.

xllamacpp.Server starts llama.cpp's C++ server in threads of this process:
the OpenAI-compatible routes (/v1/models, /v1/chat/completions, ...) over
real HTTP, no Python in the request path. Port 0: the server binds a free
port itself, so no other process can take it between a probe and the bind.
Its address (http://127.0.0.1:PORT) is written to ADDR_FILE (a temporary
name renamed into place, so a reader never sees half of it); then the
process waits for SIGTERM or SIGINT and exits, which ends the server.

One thread for generation and for prompt processing: on a busy 2-core
machine llama.cpp's OpenMP threads spin against each other (a 96-token
reply took 39 s instead of 1.6 s). One slot, 2048 tokens of context.
"""
import os
import signal
import sys


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: serve.py MODEL ALIAS ADDR_FILE\n")
        return 2
    model, alias, addr_file = sys.argv[1:]
    # Block the signals before the server's threads start, so they inherit
    # the mask and the signal is taken by sigwait below, not by a C++ thread.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = model
    p.model_alias = {alias}
    p.hostnames = ["127.0.0.1"]
    p.port = 0
    p.n_ctx = 2048
    p.n_parallel = 1
    p.cpuparams.n_threads = 1
    p.cpuparams_batch.n_threads = 1
    server = xllamacpp.Server(p)
    addr = server.listening_address
    if not addr.startswith("http://127.0.0.1:"):
        sys.stderr.write("serve.py: unexpected listening address %r\n" % addr)
        return 1
    tmp = addr_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(addr + "\n")
    os.rename(tmp, addr_file)
    sys.stderr.write("serve.py: listening on %s\n" % addr)
    sys.stderr.flush()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    sys.stderr.write("serve.py: stopping\n")
    sys.stderr.flush()
    # The server's threads hold no state worth flushing: leave at once
    # rather than wait for them to wind down.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
