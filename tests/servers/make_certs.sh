#!/usr/bin/env bash
# make_certs.sh DIR — a throw-away test PKI for the live-server tests (EC P-256).
#
#   ca.pem ca.key                 test root CA
#   server.pem server.key         CA-signed; SAN DNS:localhost, IP:127.0.0.1
#   wronghost.pem wronghost.key   CA-signed; SAN DNS:wrong.example only
#   expired.pem expired.key       CA-signed; localhost; valid 2000-01-01..2000-01-02 only
#   selfsigned.pem selfsigned.key localhost; self-signed, not CA-signed
#   otherca.pem otherca.key       a second, unrelated root CA
#   unknownroot.pem unknownroot.key  localhost; signed by otherca
#   client.pem client.key         client certificate (CN "smtp test client"), CA-signed
#   client_enc.pem client_enc.key the same kind (CN "smtp test client enc"), its key
#                                 encrypted with the passphrase "client-pass"
#   otherclient.pem otherclient.key  client certificate signed by otherca
#   mtasts.pem mtasts.key         CA-signed; SAN DNS:mta-sts.example.test (an MTA-STS policy host)
#   mxhosts.pem mxhosts.key       CA-signed; SAN the MX hosts and MTA-STS policy hosts of the
#                                 delivery test bed (mx1.sts.test, mta-sts.sts.test, ...)
#   serverchain.pem serverchain.key  server.pem with ca.pem after it (the chain a
#                                 DANE-TA(2) record's trust anchor must be in), server.key
#
# Idempotent: a complete PKI already in DIR (marked by DIR/.complete) is kept as
# it is; anything else is regenerated. Concurrent runs on one DIR are serialised
# (flock on DIR/.lock). Quiet: prints nothing on success, shows
# openssl's output and exits non-zero on failure.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
files=(ca.pem ca.key server.pem server.key wronghost.pem wronghost.key expired.pem expired.key
       selfsigned.pem selfsigned.key otherca.pem otherca.key unknownroot.pem unknownroot.key
       client.pem client.key client_enc.pem client_enc.key otherclient.pem otherclient.key
       mtasts.pem mtasts.key mxhosts.pem mxhosts.key serverchain.pem serverchain.key)

mkdir -p "$dir"
umask 077
# Several test runners may share one DIR (with_servers.py --certs): one at a time.
exec 9>"$dir/.lock"
flock 9
if [ -f "$dir/.complete" ]; then
  ok=1
  for f in "${files[@]}"; do [ -s "$dir/$f" ] || ok=0; done
  [ $ok -eq 1 ] && exit 0
fi
rm -f "$dir/.complete"

work=$(mktemp -d "$dir/.make_certs.XXXXXX")
log=$work/openssl.log
trap 'rm -rf "$work"' EXIT
fail() {
  echo "make_certs.sh: $*" >&2
  [ -s "$log" ] && cat "$log" >&2
  exit 1
}
ossl() { openssl "$@" >>"$log" 2>&1 || fail "openssl $1 failed"; }

key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$1.key"; }

cat >"$work/ext.cnf" <<'EOF'
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[localhost]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[wronghost]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[mtasts]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mta-sts.example.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[mxhosts]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mx1.sts.test, DNS:mta-sts.sts.test, DNS:mta-sts.stsbad.test, DNS:mta-sts.ststest.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[selfsigned]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
EOF

# A root CA: name, CN.
root() {
  key "$1"
  ossl req -new -x509 -key "$work/$1.key" -out "$work/$1.pem" -days 3650 -subj "/CN=$2" \
    -config "$work/ext.cnf" -extensions ca_ext
}
# A leaf signed by a CA: name, CA name, CN, extension section.
leaf() {
  key "$1"
  ossl req -new -key "$work/$1.key" -out "$work/$1.csr" -subj "/CN=$3" -config "$work/ext.cnf"
  ossl x509 -req -in "$work/$1.csr" -CA "$work/$2.pem" -CAkey "$work/$2.key" -CAcreateserial \
    -out "$work/$1.pem" -days 3650 -extfile "$work/ext.cnf" -extensions "$4"
}

root ca "smtp test root CA"
root otherca "smtp other test root CA"
leaf server ca localhost localhost
leaf wronghost ca wrong.example wronghost
leaf mtasts ca mta-sts.example.test mtasts
leaf mxhosts ca mx1.sts.test mxhosts
leaf unknownroot otherca localhost localhost
leaf client ca "smtp test client" client
leaf client_enc ca "smtp test client enc" client
leaf otherclient otherca "smtp other client" client
# The key of client_enc, encrypted (PKCS#8, AES-256) with a passphrase.
ossl pkey -in "$work/client_enc.key" -aes256 -passout pass:client-pass -out "$work/client_enc.key.enc"
mv -f "$work/client_enc.key.enc" "$work/client_enc.key"

key selfsigned
ossl req -new -x509 -key "$work/selfsigned.key" -out "$work/selfsigned.pem" -days 3650 \
  -subj /CN=localhost -config "$work/ext.cnf" -extensions selfsigned

# OpenSSL 3.0's x509 has no -not_before/-not_after; `openssl ca` takes
# -startdate/-enddate, so the expired certificate goes through a minimal CA.
key expired
ossl req -new -key "$work/expired.key" -out "$work/expired.csr" -subj /CN=localhost \
  -config "$work/ext.cnf"
mkdir "$work/ca.db"
: >"$work/ca.db/index.txt"
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
dir = $work/ca.db
database = \$dir/index.txt
new_certs_dir = \$dir
rand_serial = yes
unique_subject = no
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
EOF
ossl ca -batch -notext -config "$work/ca.cnf" -cert "$work/ca.pem" -keyfile "$work/ca.key" \
  -startdate 20000101000000Z -enddate 20000102000000Z \
  -extfile "$work/ext.cnf" -extensions localhost \
  -in "$work/expired.csr" -out "$work/expired.pem"

cat "$work/server.pem" "$work/ca.pem" >"$work/serverchain.pem"
cp "$work/server.key" "$work/serverchain.key"

chmod 644 "$work"/*.pem
chmod 600 "$work"/*.key
for f in "${files[@]}"; do mv -f "$work/$f" "$dir/$f"; done
: >"$dir/.complete"
