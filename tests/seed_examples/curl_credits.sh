curl https://heyswap.pro/api/v1/user/credits \
     -H 'Content-Type: application/json' \
     -H "Authorization: Bearer JWT_AUTH_TOKEN"
