# hnblab node image: the base (debootstrap + docker import) plus a venv with the project's
# Python dependencies installed offline from a wheelhouse built on the host.
# The project's own code is NOT copied: the runtime bind-mounts lab/ read-only, so a code
# change needs no rebuild.
ARG BASE
FROM ${BASE}
COPY wheelhouse /tmp/wheelhouse
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /tmp/wheelhouse -r /tmp/requirements.txt \
 && rm -rf /tmp/wheelhouse /root/.cache
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/opt/hnblab PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/hnblab
