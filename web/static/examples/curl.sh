# Get auth token
AUTH_TOKEN=$(curl -s -H 'Content-Type: application/json' \
  -d '{ "key":"YOUR_API_KEY" }' \
  -X POST {{BASE_URL}}/api/token | jq -r .access_token)

# Basic remove background
curl -X POST {{BASE_URL}}/api/v1/image/remove-background \
  -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $AUTH_TOKEN" \
  -d '{ "input_image":"https://example.com/image.jpg" }'

# With solid background color
curl -X POST {{BASE_URL}}/api/v1/image/remove-background \
  -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $AUTH_TOKEN" \
  -d '{ "input_image":"https://example.com/image.jpg", "bg_color":"#2ec27e" }'

# With gradient background
curl -X POST {{BASE_URL}}/api/v1/image/remove-background \
  -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $AUTH_TOKEN" \
  -d '{ "input_image":"https://example.com/image.jpg", "bg_gradient":"#a855f7:#ec4899", "gradient_direction":"diagonal-tl-br" }'
