# loadgen in a container, built from this repository's own sources (README, "Container").
#   docker build -t loadgen .            # or: buildah bud --no-cache -t loadgen .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/profiles:/work/profiles:ro" \
#     -v "$PWD/results:/work/results" loadgen run profiles/demo.toml
# RUN --mount needs BuildKit (Docker 23+ builds with it by default) or buildah/podman; no
# `# syntax=` line, so no frontend image is pulled from a registry.
# The base image is a build argument, so a mirror or a locally made image can stand in
# (scripts/container-base makes one with debootstrap for machines with no registry).
ARG BASE_IMAGE=python:3.12-slim

# -- builder: the loadgen wheel from the sources, and a wheel of every dependency ---------
FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY loadgen/ loadgen/
# Behind a TLS-inspecting proxy pip needs that proxy's CA: pass it as the build secret
# pip_cert (`--secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt`). A secret is
# mounted for this step only and never stored in a layer; without one, pip's own CAs apply.
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && python3 -m venv /opt/build \
    && /opt/build/bin/pip wheel --prefer-binary --wheel-dir /wheels .

# -- the image: the wheels installed offline into a venv, run as an unprivileged user -----
FROM ${BASE_IMAGE}
ARG LOADGEN_UID=10001
# PYTHONDONTWRITEBYTECODE: the install compiles every module; at run time the user cannot
# write to /opt/loadgen, so Python should not try
ENV PATH=/opt/loadgen/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The builder's pip installs into a venv made without one (no pip in the image, ~15 MB);
# --no-index: everything comes from the builder's wheels, so this stage needs no network.
RUN --mount=type=bind,from=builder,source=/opt/build,target=/opt/build \
    --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python3 -m venv --without-pip /opt/loadgen \
    && /opt/build/bin/pip --python /opt/loadgen/bin/python install --no-cache-dir \
        --disable-pip-version-check --no-index --find-links /wheels loadgen \
    && groupadd --gid "${LOADGEN_UID}" loadgen \
    && useradd --uid "${LOADGEN_UID}" --gid "${LOADGEN_UID}" --no-create-home \
        --home-dir /work --shell /usr/sbin/nologin loadgen \
    && mkdir -p /work/profiles /work/results \
    && chown -R loadgen:loadgen /work
# Profiles (and their targets.toml) are read from /work, results written to /work/results:
# mount a profiles directory there and a results directory writable by uid 10001.
WORKDIR /work
# numeric, so a runtime can tell it is not root (Kubernetes runAsNonRoot) without /etc/passwd
USER ${LOADGEN_UID}:${LOADGEN_UID}
ENTRYPOINT ["loadgen"]
CMD ["--help"]
