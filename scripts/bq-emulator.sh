#!/usr/bin/env bash
# Installs the BigQuery emulator (bqemulator from PyPI) that the BigQuery sink's tests run
# against, into `.venv-bq/` at the repository root, with DuckDB's spatial extension pre-installed
# under `.bq-home/` so the emulator never tries to download it at start-up.
#
#   scripts/bq-emulator.sh install   install once; a second call checks and returns at once
#   scripts/bq-emulator.sh path      print the emulator's executable (after install)
#
# `cargo xtask test` and `.ci/run` call `install`; the tests start the emulator themselves (see
# crates/fake-bigquery/src/emulator.rs). Versions are pinned: bqemulator needs DuckDB's spatial
# extension, and the only offline copy is the `duckdb-extension-spatial` wheel, which exists for
# duckdb 1.5.5 but not for the 2.x that bqemulator would otherwise pull in.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-bq
BQ_HOME=.bq-home
PACKAGES=(bqemulator==1.4.0 duckdb==1.5.5 duckdb-extension-spatial==1.5.5 numpy)
MARKER="$VENV/.ashflow-installed"
# The marker holds the package list, so changing a pin above reinstalls.
WANTED="${PACKAGES[*]}"

install() {
    if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$WANTED" && -x "$VENV/bin/bqemulator" ]]; then
        return 0
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        echo "bq-emulator: python3 is needed to install the BigQuery emulator; install it" \
             "(for example \`apt-get install python3 python3-venv\`) and run again" >&2
        exit 1
    fi
    echo "bq-emulator: installing ${WANTED} into $VENV (once per machine)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}"

    # bqemulator runs `INSTALL spatial; LOAD spatial` when it starts; with the extension already
    # in DuckDB's folder under HOME, that finds it instead of reaching for the network.
    mkdir -p "$BQ_HOME"
    HOME="$PWD/$BQ_HOME" "$VENV/bin/python" - <<'PY'
import pathlib
import duckdb
import duckdb_extension_spatial

extension = (
    pathlib.Path(duckdb_extension_spatial.__file__).parent
    / "extensions"
    / ("v" + duckdb.__version__)
    / "spatial.duckdb_extension"
)
duckdb.connect().execute(f"INSTALL '{extension}'")
PY
    echo "$WANTED" > "$MARKER"
}

case "${1:-}" in
    install) install ;;
    path) echo "$PWD/$VENV/bin/bqemulator" ;;
    *)
        echo "usage: scripts/bq-emulator.sh install|path" >&2
        exit 2
        ;;
esac
