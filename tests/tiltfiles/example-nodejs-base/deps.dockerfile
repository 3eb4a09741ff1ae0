FROM node:18
ARG NODE_ENV=production
WORKDIR /usr/src/app
COPY package.json .
RUN npm install
