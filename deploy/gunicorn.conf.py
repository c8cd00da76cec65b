"""gunicorn settings for `temix serve` with TEMIX_FRONT=gunicorn (the default front is granian,
set up from the service's own settings: service/front/granian_server.py).

`temix serve` reads this file (or the one named by TEMIX_GUNICORN_CONFIG) and then sets, from
its own settings (--host/--port/--workers, TEMIX_HOST/TEMIX_PORT/TEMIX_WORKERS), `bind`,
`workers` and `loglevel`, never preloading, so each worker opens its own database engine
after the fork. The values of `bind` and `workers` below are those defaults, shown for
reference. Sync workers have no read deadline and no keep-alive: a slow client holds a worker
for as long as it trickles (see README, "Under faults").
"""

# --- what temix serve overrides -------------------------------------------------------------
bind = ["127.0.0.1:8080"]
workers = 2
preload_app = False

# --- workers --------------------------------------------------------------------------------
worker_class = "sync"

# --- time limits ----------------------------------------------------------------------------
# A request is a few database statements: 30 s means a stuck worker, which is then replaced.
timeout = 30
# On SIGTERM workers finish the request in hand for up to this long.
graceful_timeout = 20
# Sync workers close the connection after each response; keepalive has no effect on them.
keepalive = 2

# --- worker recycling -----------------------------------------------------------------------
# Replace each worker after about this many requests (jitter staggers the restarts) to bound
# any slow growth in memory. Not too often: a new worker compiles the schemas, verifies each
# party's password once (scrypt) and prepares its statements again; the bench saw worker RSS
# flat under load, so every ~100,000 requests is plenty.
max_requests = 100000
max_requests_jitter = 10000

# --- request limits (the body limit is the application's: TEMIX_MAX_BODY_BYTES) --------------
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# --- logs -----------------------------------------------------------------------------------
# Both to standard error (journald under systemd). The access log has the request line,
# status, size and time, never a request or response body.
errorlog = "-"
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'

# --- process --------------------------------------------------------------------------------
# gunicorn 25+ opens a control socket at $XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/: one
# path for every gunicorn of the user, so two services would collide. temix does not use it.
control_socket_disable = True
# Behind a reverse proxy on the same host, trust its X-Forwarded-* headers.
forwarded_allow_ips = "127.0.0.1"
