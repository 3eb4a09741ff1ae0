FROM shop-deps
WORKDIR /usr/src/app
COPY . .
CMD ["node", "src/index.js"]
