# remove.bg's own sample, with only the host changed: the remove.bg-compatible endpoint
# takes one of your API keys in X-Api-Key (no token step) and answers with the image.
curl -H 'X-API-Key: YOUR_API_KEY'                       \
       -F 'image_file=@/path/to/file.jpg'                 \
       -F 'size=auto'                                     \
       -f {{BASE_URL}}/v1.0/removebg -o no-bg.png

# Credits, in remove.bg's shape
curl -H 'X-API-Key: YOUR_API_KEY' {{BASE_URL}}/v1.0/account
