# syntax=docker/dockerfile:1
# The pull runner's image (`proctor runner`): Node 20, the built proctor CLI, the docker CLI (to look at
# the pod's engine when debugging: proctor itself talks to the engine's API), and this competition's
# repository: competition.yml, the scorer, submission_format/ and the public sample data. Built from the
# repository root, so each competition's fork builds its own:
#   docker build -f deploy/runner.Dockerfile -t registry.example.org/proctor/runner:0.1.0 .
# deploy/runner.Dockerfile.dockerignore keeps node_modules, .git, the gateway's data and private keys out.

FROM node:20.20.2-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the runner needs no native module (better-sqlite3 serves only the gateway).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN node scripts/bundle.mjs cli \
  # A V8 code cache for `proctor runner` (build/.cache): the root filesystem is read-only at run time.
  && node build/proctor.mjs runner --help >/dev/null

FROM node:20.20.2-bookworm-slim
COPY --from=docker:28.5.1-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=build /src/build /opt/proctor/build
COPY . /opt/proctor/competition
# The competition's folder: `--config competition.yml` and the paths in it resolve from here.
WORKDIR /opt/proctor/competition
# The node image's own unprivileged user, by number (Kubernetes' runAsNonRoot can check a number).
USER 1000:1000
ENTRYPOINT ["node", "/opt/proctor/build/proctor.mjs"]
CMD ["runner", "--help"]
