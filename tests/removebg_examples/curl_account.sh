curl -H 'X-API-Key: INSERT_YOUR_API_KEY_HERE' \
       -f https://api.remove.bg/v1.0/account
