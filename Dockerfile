# cryptopay-mcp container image: the static release binary on an empty
# base — no shell, no libc, no package manager — running as a non-root user.
#
# The build context is prepared by .ci/ship.sh ($SHIP_OUT/docker/amd64/):
# the linux/amd64 release binary (CGO_ENABLED=0), LICENSE, the CA bundle of
# the build host and an empty data/ directory. Build and run:
#
#   SHIP_OUT=dist bash .ci/ship.sh
#   docker build -t cryptopay-mcp dist/docker/amd64    # CI builds it with buildah
#   docker run -i --rm -v cryptopay-data:/data cryptopay-mcp                 # MCP over stdio
#   docker run --rm -p 8080:8080 -v cryptopay-data:/data \
#     -e MCP_HTTP_TOKEN=$(openssl rand -hex 32) cryptopay-mcp http --listen 0.0.0.0:8080   # Streamable HTTP at /mcp
#
# A non-loopback --listen needs MCP_HTTP_TOKEN (the server refuses to start
# without it); add MCP_HTTP_ALLOWED_HOSTS for the public name clients use.
FROM scratch

# MCP Registry ownership check of the OCI package (server.json "name").
LABEL io.modelcontextprotocol.server.name="io.github.cryptopay-mcp/cryptopay-mcp"
LABEL org.opencontainers.image.licenses="MIT"

# TLS to Bitnovo Pay, Bitrefill and the tunnel providers.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The state directory, owned by the runtime user so a fresh named volume is
# writable (Docker copies this ownership into it).
COPY --chown=65532:65532 data/ /data/
COPY cryptopay-mcp /usr/local/bin/cryptopay-mcp
# The MIT licence travels with the binary.
COPY LICENSE /usr/share/doc/cryptopay-mcp/LICENSE

ENV CRYPTOPAY_DATA_DIR=/data \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
VOLUME ["/data"]
# http mode listens here when started with `http --listen 0.0.0.0:8080`.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/cryptopay-mcp"]
