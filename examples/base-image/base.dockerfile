FROM node:18-bookworm-slim
ARG node_env=production
ENV NODE_ENV $node_env
WORKDIR '/var/www/app'
ADD package.json package.json
RUN npm install
ENTRYPOINT node server.js
