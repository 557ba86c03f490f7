#!/usr/bin/env bash
# TAP wrapper so `make check` runs the unsafe-output and SQL lint (contrib/lint.sh).
exec bash "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/contrib/lint.sh"
