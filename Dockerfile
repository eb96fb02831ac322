# syntax=docker/dockerfile:1
# Build stage: full install (the `prepare` script compiles TypeScript into dist/).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY config ./config
COPY bin ./bin
RUN npm ci --no-audit --no-fund

# Runtime stage: production dependencies only, non-root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config/custodian.schema.json ./config/custodian.schema.json
COPY config/demo.yaml config/policy-tests.yaml ./config/
RUN useradd --system --uid 10001 --home /app custodian && mkdir -p /var/lib/custodian && chown custodian /var/lib/custodian
USER 10001
# Mount the policy at /etc/custodian/custodian.yaml (ConfigMap) and secrets as files or env.
VOLUME ["/var/lib/custodian"]
EXPOSE 8443 8080 9464
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/app/dist/index.js"]
CMD ["serve", "-c", "/etc/custodian/custodian.yaml"]
