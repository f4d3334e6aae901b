package main
import (
 _ "github.com/modelcontextprotocol/go-sdk/mcp"
 _ "github.com/boombuler/barcode/qr"
 _ "github.com/makiuchi-d/gozxing"
 _ "golang.org/x/image/draw"
 _ "modernc.org/sqlite"
 _ "go.uber.org/goleak"
 _ "github.com/google/go-cmp/cmp"
)
func main(){}
