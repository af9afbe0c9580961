# hnblab base image from a local or pulled debian:bookworm: the packages of
# images/base.packages, like the debootstrap path (no Recommends; apt lists and docs
# dropped), so both give the same image under the same tag.
ARG DEBIAN=debian:bookworm
FROM ${DEBIAN}
ARG PACKAGES
# The host's Debian mirror (lab.images.debian_mirror), for hosts that reach only that one;
# the security archive is left as it is.
ARG MIRROR=http://deb.debian.org/debian
RUN set -e; \
    test -n "${PACKAGES}"; \
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources; do \
      if [ -f "$f" ]; then sed -E -i "s#http://deb\.debian\.org/debian( |\$)#${MIRROR}\1#" "$f"; fi; \
    done; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES}; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man
