# Sourced by ci/scale-bench.sh and ci/scale-load.sh: a throwaway PostgreSQL
# cluster (Debian's postgresql package; its programs run as the postgres
# user when root) and an S3-compatible server (s3s-fs, from
# ci/install-s3-server.sh), both on loopback, stopped and removed on exit.
# Sets: pg_url_for NAME (a new database's URL), s3_env (the AWS_* settings).
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
work="$(mktemp -d /tmp/timecard-scale-XXXX)"
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
    as_pg=(runuser -u postgres --)
    chown postgres "$work"
fi
port=$((20000 + RANDOM % 20000))
"${as_pg[@]}" "$bin/initdb" -D "$work/pg" -U postgres -A trust --no-sync >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -c max_connections=200 -k $work" start >/dev/null
ci/install-s3-server.sh >/dev/null
mkdir -p "$work/s3/bench"
s3port=$((port + 1))
"${CARGO_TARGET_DIR:-target}/tools/bin/s3s-fs" --host 127.0.0.1 --port "$s3port" \
    --access-key bench --secret-key bench-secret "$work/s3" >"$work/s3.log" 2>&1 &
s3pid=$!
cleanup() {
    kill "$s3pid" 2>/dev/null || true
    "${as_pg[@]}" "$bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
pg_url_for() {
    "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -c "create database $1" postgres
    echo "postgres://postgres@127.0.0.1:$port/$1"
}
s3_env=(AWS_ENDPOINT_URL="http://127.0.0.1:$s3port" AWS_ALLOW_HTTP=true
    AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1)
