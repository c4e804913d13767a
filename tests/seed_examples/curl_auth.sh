curl -H 'Content-Type: application/json' \
     -d '{ "key":"YOUR_API_KEY" }' \
     -X POST \
     https://heyswap.pro/api/token
