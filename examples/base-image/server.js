// A tiny express server: answers on $PORT (3000 by default).
const express = require('express');

const app = express();
const port = process.env.PORT || 3000;

app.get('/', (req, res) => {
  res.send('Hello from the base-image example!\n');
});

app.listen(port, () => {
  console.log(`nodejs-express-app listening on port ${port} (NODE_ENV=${process.env.NODE_ENV})`);
});
