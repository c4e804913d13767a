# Upload a file instead of a URL (an extension: the image as the file part input_image, the
# other fields as form fields; size, crop, crop_margin, scale, position, roi, model, ...)
AUTH_TOKEN=$(curl -s -H 'Content-Type: application/json' \
  -d '{ "key":"YOUR_API_KEY" }' \
  -X POST {{BASE_URL}}/api/token | jq -r .access_token)

curl -s -D headers.txt -X POST {{BASE_URL}}/api/v1/image/remove-background \
  -H "Authorization: Bearer $AUTH_TOKEN" \
  -F input_image=@photo.jpg -F output_format=png -F crop=true -F crop_margin=10px

# The answer's X-Job-Id header names the job: its stage timings, and its output's bytes
# from this server (output_image itself points at the object store).
JOB_ID=$(grep -i '^x-job-id:' headers.txt | cut -d' ' -f2 | tr -d '\r')
curl -s -H "Authorization: Bearer $AUTH_TOKEN" {{BASE_URL}}/api/v1/jobs/$JOB_ID
curl -s -H "Authorization: Bearer $AUTH_TOKEN" -o cutout.png \
  {{BASE_URL}}/api/v1/jobs/$JOB_ID/output
