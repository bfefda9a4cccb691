# Multi-stage build of the single cartograph binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/cartograph ./cmd/cartograph

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cartograph /usr/local/bin/cartograph
ENV LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/cartograph"]
CMD ["serve"]
