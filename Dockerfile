# portcullis: multi-stage build, small runtime image, non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/bin ./dist/bin
COPY --from=build /src/dist/src ./dist/src
COPY package.json LICENSE ./
RUN mkdir -p /data /certs && chown node:node /data
USER node
# One malloc arena, as the portcullis command's #! line sets (docs/configuration.md, "Memory").
ENV MALLOC_ARENA_MAX=1 \
    PORTCULLIS_LISTEN=0.0.0.0:5000 \
    PORTCULLIS_STORAGE=/data \
    PORTCULLIS_STATS_ALLOW=127.0.0.0/8,::1/128
VOLUME ["/data", "/certs"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "require('http').get('http://127.0.0.1:5000/_ping',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
ENTRYPOINT ["node", "--max-semi-space-size=4", "/app/dist/bin/portcullis.js"]
