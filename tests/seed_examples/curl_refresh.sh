curl -X POST https://heyswap.pro/api/refresh \
     -H 'Content-Type: application/json' \
     -H "Authorization: Bearer YOUR_CURRENT_JWT_AUTH_TOKEN"
