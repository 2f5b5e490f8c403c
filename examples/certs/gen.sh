#!/usr/bin/env sh
# Regenerates the throwaway test certificates in this folder (see README.md).
# Needs OpenSSL 3. Run from this folder: ./gen.sh
set -eu
days=3650
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout ca.key -out ca.pem -days $days -subj "/CN=kete example CA (test only)" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout server.key -out server.csr -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days $days -extfile server.ext

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout client.key -out client.csr -subj "/CN=kete-client"
printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.crt -days $days -extfile client.ext

# PEM key stores: certificate, then the CA, then the unencrypted PKCS#8 key.
cat server.crt ca.pem server.key > server.pem
cat client.crt ca.pem client.key > client.pem
# The same client identity as PKCS#12, password kete-example.
openssl pkcs12 -export -in client.crt -inkey client.key -certfile ca.pem \
  -out client.p12 -passout pass:kete-example -name kete-client

# The CA key is not kept: nobody can mint more certificates for this CA.
rm -f ca.key ca.srl server.csr client.csr server.ext client.ext server.crt client.crt server.key client.key
chmod 644 ca.pem server.pem client.pem client.p12
