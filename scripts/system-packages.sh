#!/usr/bin/env bash
# Install the Debian packages the test suite drives for real, when any is missing:
# nginx (the front proxy), Prometheus and promtool (scrape and rule tests), docker-compose
# (validates the compose file; no engine needed), psql (init.sql) and Chromium (the UI's
# end-to-end tests). Quick when everything is there. Needs root or sudo to install.
set -euo pipefail

declare -A needed=(
  [nginx]=nginx
  [prometheus]=prometheus
  [promtool]=prometheus
  [docker-compose]=docker-compose
  [psql]=postgresql-client
  [chromium]=chromium
)
packages=()
for command in "${!needed[@]}"; do
  if ! command -v "$command" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$command ]]; then
    packages+=("${needed[$command]}")
  fi
done
[[ ${#packages[@]} -eq 0 ]] && exit 0
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${packages[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "installing Debian packages: ${packages[*]}"
# Tests start these programs themselves on spare loopback ports: keep the packages from
# starting their own services (nginx on :80, Prometheus on :9090) while installing.
policy=/usr/sbin/policy-rc.d
made_policy=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  made_policy=true
fi
trap '[[ $made_policy == true ]] && "${sudo[@]}" rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
# --no-install-recommends: docker-compose would otherwise pull in the whole Docker engine.
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}"; then
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}"
fi
