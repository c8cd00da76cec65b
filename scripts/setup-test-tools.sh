# Sourced by scripts/test.sh: the programs that some tests run beside the service, from Debian's
# packages, installed when missing and apt-get can (as root; CI runs as root):
#   haproxy   tests/e2e/test_load_balancer.py, in front of two `temix serve` (deploy/haproxy.cfg)
# TEMIX_NO_APT=1 installs nothing. A test whose program is missing is skipped, saying why.
# The package's own service is not started by this (the tests start haproxy themselves, on
# loopback); on these machines policy-rc.d already refuses service starts during installs.

missing_tools=()
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing_tools+=(haproxy)

if [ ${#missing_tools[@]} -gt 0 ]; then
    if [ "${TEMIX_NO_APT:-}" = 1 ]; then
        echo "setup: not installing ${missing_tools[*]} (TEMIX_NO_APT=1): the tests that run it are skipped" >&2
    elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${missing_tools[*]} with apt-get, for the tests that run it" >&2
        # the package lists may be missing or old on a new machine: update them once if needed
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                "${missing_tools[@]}" >/dev/null 2>&1; then
            apt-get update -q >/dev/null 2>&1 || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                "${missing_tools[@]}" >/dev/null 2>&1 \
                || echo "setup: apt-get could not install ${missing_tools[*]}: the tests that run it are skipped" >&2
        fi
    else
        echo "setup: ${missing_tools[*]} not installed and apt-get not usable here (not root):" \
             "the tests that run it are skipped" >&2
    fi
fi
unset missing_tools
