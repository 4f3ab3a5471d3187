#!/usr/bin/env bash
# Install everything wangge needs on Debian 12/13: system packages, then a virtualenv in .venv.
# Idempotent: a second run only checks. Usage: bash install.sh
set -euo pipefail
cd "$(dirname "$0")"

DEB_PACKAGES=(
  python3 python3-venv python3-dev
  libsqlite3-mod-spatialite
  postgresql postgresql-postgis
  fonts-noto-cjk
  chromium poppler-utils
  osmium-tool gdal-bin
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "安装系统软件包 / installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's own python3 can load SQLite extensions (mod_spatialite); some pyenv builds cannot.
PY=/usr/bin/python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# The OGC API - Features test suite (ogctests, PyPI) pins httpx<0.28, pytest<9 and pyarrow<18,
# older than wangge's own: it gets a virtualenv of its own, run as a black box by the tests.
if [ ! -x .venv-ogctests/bin/python ]; then
  "$PY" -m venv .venv-ogctests
fi
.venv-ogctests/bin/python -m pip install -q "ogctests==0.1.15"
.venv/bin/python -c "import api.db.spatialite as s; s.check_spatialite()" \
  || { echo "SpatiaLite 无法加载 / cannot load mod_spatialite"; exit 1; }
echo "安装完成 / installed: $(.venv/bin/wangge --version 2>/dev/null || echo wangge)"
