# Multi-stage build of the single cartograph binary.
# GraphiQL's pinned npm packages (internal/graphiql/web) are installed at
# build time and embedded; they are never committed.
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY internal/graphiql/web/package.json internal/graphiql/web/package-lock.json internal/graphiql/web/assets.sh internal/graphiql/web/
COPY internal/graphiql/dist/README.txt internal/graphiql/dist/
RUN bash internal/graphiql/web/assets.sh

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=assets /src/internal/graphiql/dist/ internal/graphiql/dist/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/cartograph ./cmd/cartograph

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cartograph /usr/local/bin/cartograph
ENV LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/cartograph"]
CMD ["serve"]
