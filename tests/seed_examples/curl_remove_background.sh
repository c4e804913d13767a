# Basic request
curl -X POST https://heyswap.pro/api/v1/image/remove-background \
     -H 'Content-Type: application/json' \
     -H "Authorization: Bearer JWT_AUTH_TOKEN" \
     -d '{ "input_image":"https://example.com/image.jpg", "output_format":"png" }'

# With solid background color
curl -X POST https://heyswap.pro/api/v1/image/remove-background \
     -H 'Content-Type: application/json' \
     -H "Authorization: Bearer JWT_AUTH_TOKEN" \
     -d '{ "input_image":"https://example.com/image.jpg", "output_format":"jpg", "bg_color":"#2ec27e" }'

# With gradient background
curl -X POST https://heyswap.pro/api/v1/image/remove-background \
     -H 'Content-Type: application/json' \
     -H "Authorization: Bearer JWT_AUTH_TOKEN" \
     -d '{ "input_image":"https://example.com/image.jpg", "bg_gradient":"#a855f7:#ec4899", "gradient_direction":"diagonal-tl-br" }'
