FROM nodejs-express-base-image
WORKDIR '/var/www/app'
ADD . .
