package seed

import (
	"context"
	"fmt"
	"html"
	"strings"
	"time"

	"cartograph/internal/content"
	"cartograph/internal/demoimages"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ImageBaseURL is where the demo shops' images are served from: the
// gateway itself (GET /images/demo/…, internal/demoimages), so storefronts
// show pictures offline. `cartograph seed` sets it from PUBLIC_BASE_URL.
var ImageBaseURL = "http://127.0.0.1:8080"

// DemoShops lists, in creation order, the handles of the shops Demo creates.
// Tests and the dev tooling (e.g. `cartograph seed`) use it to find them.
var DemoShops = []string{"apparel", "electronics"}

// optVal is one value of a product option; surcharge (minor units) is added
// to the product's base price for variants that carry this value.
type optVal struct {
	name      string
	surcharge int64
}

type optSpec struct {
	name   string
	values []optVal
}

type productSpec struct {
	handle      string
	title       string
	skuPrefix   string
	productType string
	vendor      string
	tags        []string
	description string
	features    []string
	status      string // "" means active
	basePrice   int64  // minor units
	saleMarkup  int64  // when > 0 every variant gets compare_at = price + saleMarkup
	weightGrams int32
	images      int // 2..4
	options     []optSpec
}

type collectionSpec struct {
	handle      string
	title       string
	description string
	products    []string // product handles in collection order
}

type shopSpec struct {
	handle      string
	name        string
	domain      string
	currency    string
	products    []productSpec
	collections []collectionSpec
}

// vals builds option values without surcharges.
func vals(names ...string) []optVal {
	out := make([]optVal, len(names))
	for i, n := range names {
		out[i] = optVal{name: n}
	}
	return out
}

var (
	apparelSizes = optSpec{"Size", []optVal{{"S", 0}, {"M", 0}, {"L", 0}, {"XL", 200}}}
	shoeSizes    = optSpec{"Size", vals("8", "9", "10", "11", "12")}
)

func color(names ...string) optSpec { return optSpec{"Color", vals(names...)} }

func demoShops() []shopSpec {
	return []shopSpec{apparelShop(), electronicsShop()}
}

func apparelShop() shopSpec {
	const vendor = "Northwind"
	return shopSpec{
		handle: "apparel", name: "Northwind Apparel", domain: "apparel.localhost", currency: "USD",
		products: []productSpec{
			{handle: "merino-crew-tee", title: "Merino Crew Tee", skuPrefix: "NW-MCT", productType: "Tops", vendor: vendor,
				tags:        []string{"merino", "tee", "essentials", "travel"},
				description: "A lightweight 150 gsm merino wool tee that regulates temperature, resists odour and packs down to nothing.",
				features:    []string{"100% ZQ-certified merino wool", "Flatlock seams for chafe-free wear", "Machine washable"},
				basePrice:   3800, weightGrams: 160, images: 3,
				options: []optSpec{apparelSizes, color("Black", "Heather Grey", "Navy")}},
			{handle: "organic-cotton-hoodie", title: "Organic Cotton Hoodie", skuPrefix: "NW-OCH", productType: "Tops", vendor: vendor,
				tags:        []string{"organic", "hoodie", "loungewear"},
				description: "Brushed-back organic cotton fleece in a relaxed fit, with a double-layer hood and kangaroo pocket.",
				features:    []string{"GOTS-certified organic cotton", "Ribbed cuffs and hem", "Garment dyed for a lived-in feel"},
				basePrice:   7800, saleMarkup: 1400, weightGrams: 620, images: 4,
				options: []optSpec{apparelSizes, color("Black", "Oat")}},
			{handle: "slim-selvedge-jeans", title: "Slim Selvedge Jeans", skuPrefix: "NW-SSJ", productType: "Bottoms", vendor: "Indigo & Co.",
				tags:        []string{"denim", "selvedge", "jeans"},
				description: "Slim-tapered jeans cut from 13.5 oz Japanese selvedge denim that fades beautifully with wear.",
				features:    []string{"13.5 oz Japanese selvedge denim", "Button fly", "Chain-stitched hem"},
				basePrice:   12800, weightGrams: 850, images: 3,
				options: []optSpec{{"Waist", vals("28", "30", "32", "34", "36")}, color("Indigo", "Black")}},
			{handle: "waxed-canvas-field-jacket", title: "Waxed Canvas Field Jacket", skuPrefix: "NW-WFJ", productType: "Outerwear", vendor: vendor,
				tags:        []string{"jacket", "waxed-canvas", "outerwear", "water-resistant"},
				description: "A four-pocket field jacket in water-resistant waxed cotton canvas with a corduroy collar and tartan lining.",
				features:    []string{"Water-resistant waxed canvas", "Corduroy collar", "Two-way brass zip"},
				basePrice:   18900, saleMarkup: 3000, weightGrams: 1400, images: 4,
				options: []optSpec{apparelSizes, color("Olive", "Navy")}},
			{handle: "linen-button-down-shirt", title: "Linen Button-Down Shirt", skuPrefix: "NW-LBD", productType: "Tops", vendor: vendor,
				tags:        []string{"linen", "shirt", "summer"},
				description: "Breathable European flax linen shirt with a soft button-down collar, made for warm days.",
				features:    []string{"100% European flax linen", "Mother-of-pearl buttons", "Pre-washed for softness"},
				basePrice:   6800, weightGrams: 240, images: 2,
				options: []optSpec{apparelSizes, color("White", "Sky Blue")}},
			{handle: "trail-running-shorts", title: "Trail Running Shorts", skuPrefix: "NW-TRS", productType: "Bottoms", vendor: "Northwind Active",
				tags:        []string{"running", "shorts", "active"},
				description: "Featherweight 5-inch running shorts with a built-in liner and a zipped back pocket for keys and gels.",
				features:    []string{"Quick-dry ripstop shell", "Built-in brief liner", "Reflective details"},
				basePrice:   4800, weightGrams: 120, images: 2,
				options: []optSpec{apparelSizes, color("Black", "Slate")}},
			{handle: "cashmere-beanie", title: "Cashmere Beanie", skuPrefix: "NW-CB", productType: "Accessories", vendor: vendor,
				tags:        []string{"cashmere", "beanie", "winter", "gift"},
				description: "A rib-knit beanie in pure Mongolian cashmere, soft enough to wear all day without the itch.",
				features:    []string{"100% grade-A cashmere", "Fold-over cuff", "One size fits most"},
				basePrice:   9500, saleMarkup: 2000, weightGrams: 80, images: 3,
				options: []optSpec{color("Charcoal", "Camel", "Forest")}},
			{handle: "leather-chelsea-boots", title: "Leather Chelsea Boots", skuPrefix: "NW-LCB", productType: "Footwear", vendor: "Harlow Boot Co.",
				tags:        []string{"boots", "leather", "footwear"},
				description: "Goodyear-welted Chelsea boots in full-grain leather with elastic gussets and a resoleable rubber sole.",
				features:    []string{"Full-grain calf leather", "Goodyear welt construction", "Commando rubber sole"},
				basePrice:   24500, weightGrams: 1600, images: 4,
				options: []optSpec{shoeSizes, color("Brown", "Black")}},
			{handle: "everyday-canvas-tote", title: "Everyday Canvas Tote", skuPrefix: "NW-ECT", productType: "Accessories", vendor: vendor,
				tags:        []string{"tote", "bag", "canvas"},
				description: "A sturdy 16 oz canvas tote with leather handles and an inside zip pocket, big enough for a laptop.",
				features:    []string{"16 oz cotton canvas", "Vegetable-tanned leather handles", "Fits a 15-inch laptop"},
				basePrice:   4200, weightGrams: 450, images: 2,
				options: []optSpec{color("Natural", "Black")}},
			{handle: "quilted-puffer-vest", title: "Quilted Puffer Vest", skuPrefix: "NW-QPV", productType: "Outerwear", vendor: vendor,
				tags:        []string{"vest", "insulated", "outerwear", "recycled"},
				description: "A packable vest insulated with recycled synthetic down that stays warm even when damp.",
				features:    []string{"Recycled synthetic insulation", "Packs into its own pocket", "DWR-treated shell"},
				basePrice:   11000, saleMarkup: 2500, weightGrams: 380, images: 3,
				options: []optSpec{apparelSizes, color("Black", "Rust")}},
			{handle: "performance-polo", title: "Performance Polo", skuPrefix: "NW-PP", productType: "Tops", vendor: "Northwind Active",
				tags:        []string{"polo", "golf", "active"},
				description: "A stretch piqué polo that wicks moisture on the course and still looks sharp at dinner.",
				features:    []string{"Four-way stretch piqué", "UPF 40 sun protection", "Anti-odour finish"},
				basePrice:   5500, weightGrams: 210, images: 2,
				options: []optSpec{apparelSizes, color("White", "Navy", "Sage")}},
			{handle: "wool-blend-overshirt", title: "Wool Blend Overshirt", skuPrefix: "NW-WBO", productType: "Outerwear", vendor: vendor,
				tags:        []string{"overshirt", "wool", "layering"},
				description: "A heavyweight wool-blend overshirt with chest pockets, the layer between a shirt and a jacket.",
				features:    []string{"70% recycled wool blend", "Snap chest pockets", "Boxy, layerable fit"},
				basePrice:   9800, weightGrams: 700, images: 3,
				options: []optSpec{apparelSizes, color("Charcoal Check", "Camel")}},
			{handle: "recycled-fleece-pullover", title: "Recycled Fleece Pullover", skuPrefix: "NW-RFP", productType: "Tops", vendor: vendor,
				tags: []string{"fleece", "recycled", "coming-soon"}, status: "draft",
				description: "A half-zip pullover in fleece spun from recycled bottles. Launching next season.",
				features:    []string{"100% recycled polyester fleece", "Half-zip collar"},
				basePrice:   6500, weightGrams: 400, images: 2,
				options: []optSpec{apparelSizes}},
			{handle: "summer-linen-shorts-2023", title: "Summer Linen Shorts (2023)", skuPrefix: "NW-SLS23", productType: "Bottoms", vendor: vendor,
				tags: []string{"linen", "shorts", "discontinued"}, status: "archived",
				description: "Last season's drawstring linen shorts, no longer sold.",
				features:    []string{"Linen-cotton blend", "Drawstring waist"},
				basePrice:   4500, weightGrams: 200, images: 2,
				options: []optSpec{apparelSizes, color("Sand")}},
		},
		collections: []collectionSpec{
			{handle: "new-arrivals", title: "New Arrivals", description: "The latest additions to the Northwind line-up.",
				products: []string{"merino-crew-tee", "organic-cotton-hoodie", "slim-selvedge-jeans", "waxed-canvas-field-jacket", "recycled-fleece-pullover", "linen-button-down-shirt"}},
			{handle: "tops", title: "Tops", description: "Tees, shirts, polos and hoodies.",
				products: []string{"merino-crew-tee", "linen-button-down-shirt", "performance-polo", "organic-cotton-hoodie"}},
			{handle: "outerwear", title: "Outerwear", description: "Jackets, vests and overshirts for every season.",
				products: []string{"waxed-canvas-field-jacket", "quilted-puffer-vest", "wool-blend-overshirt"}},
			{handle: "gifts-under-100", title: "Gifts Under $100", description: "Thoughtful gifts that won't break the bank.",
				products: []string{"cashmere-beanie", "everyday-canvas-tote", "merino-crew-tee", "trail-running-shorts", "performance-polo", "wool-blend-overshirt", "organic-cotton-hoodie"}},
			// Read by Next.js Commerce's home page (hidden from its menus).
			{handle: "hidden-homepage-featured-items", title: "Featured", description: "Home page: featured items.",
				products: []string{"waxed-canvas-field-jacket", "merino-crew-tee", "leather-chelsea-boots"}},
			{handle: "hidden-homepage-carousel", title: "Carousel", description: "Home page: carousel.",
				products: []string{"organic-cotton-hoodie", "slim-selvedge-jeans", "cashmere-beanie", "quilted-puffer-vest", "everyday-canvas-tote", "performance-polo"}},
		},
	}
}

func electronicsShop() shopSpec {
	const vendor = "Voltline"
	storage := func(names ...string) optSpec {
		o := optSpec{name: "Storage"}
		for i, n := range names {
			o.values = append(o.values, optVal{n, int64(i) * 10000})
		}
		return o
	}
	return shopSpec{
		handle: "electronics", name: "Voltline Electronics", domain: "electronics.localhost", currency: "EUR",
		products: []productSpec{
			{handle: "nova-x-smartphone", title: "Nova X Smartphone", skuPrefix: "VL-NOVAX", productType: "Smartphones", vendor: vendor,
				tags:        []string{"smartphone", "5g", "flagship"},
				description: "A 6.7-inch OLED flagship with a 120 Hz display, triple 50 MP camera system and two-day battery life.",
				features:    []string{"6.7-inch 120 Hz LTPO OLED", "Triple 50 MP camera", "5,000 mAh battery with 65 W charging"},
				basePrice:   89900, weightGrams: 205, images: 4,
				options: []optSpec{storage("128GB", "256GB", "512GB"), color("Graphite", "Silver", "Ocean Blue")}},
			{handle: "nova-lite-smartphone", title: "Nova Lite Smartphone", skuPrefix: "VL-NOVAL", productType: "Smartphones", vendor: vendor,
				tags:        []string{"smartphone", "5g", "value"},
				description: "Everything you need in a phone for less: a bright 6.4-inch display, 5G and a camera that shines at night.",
				features:    []string{"6.4-inch 90 Hz display", "48 MP night-mode camera", "Dual SIM 5G"},
				basePrice:   34900, saleMarkup: 5000, weightGrams: 180, images: 3,
				options: []optSpec{storage("128GB", "256GB"), color("Black", "Mint")}},
			{handle: "pulse-anc-headphones", title: "Pulse ANC Wireless Headphones", skuPrefix: "VL-PANC", productType: "Audio", vendor: "Pulse Audio",
				tags:        []string{"headphones", "noise-cancelling", "bluetooth"},
				description: "Over-ear headphones with adaptive noise cancellation, 40-hour battery life and multipoint Bluetooth.",
				features:    []string{"Adaptive active noise cancellation", "40 h battery", "Bluetooth 5.3 multipoint"},
				basePrice:   29900, saleMarkup: 5000, weightGrams: 250, images: 3,
				options: []optSpec{color("Black", "Sand")}},
			{handle: "pulse-buds-pro", title: "Pulse Buds Pro", skuPrefix: "VL-PBP", productType: "Audio", vendor: "Pulse Audio",
				tags:        []string{"earbuds", "noise-cancelling", "bluetooth"},
				description: "True wireless earbuds with noise cancellation, spatial audio and a wireless charging case.",
				features:    []string{"Hybrid ANC with transparency mode", "IPX4 sweat resistance", "Wireless charging case"},
				basePrice:   17900, weightGrams: 55, images: 2,
				options: []optSpec{color("Black", "White")}},
			{handle: "aero-14-ultrabook", title: "Aero 14 Ultrabook", skuPrefix: "VL-AERO14", productType: "Laptops", vendor: vendor,
				tags:        []string{"laptop", "ultrabook", "oled"},
				description: "A 1.2 kg aluminium ultrabook with a 14-inch 2.8K OLED display and all-day battery.",
				features:    []string{"14-inch 2.8K OLED, 90 Hz", "Thunderbolt 4 x2", "Up to 18 h battery"},
				basePrice:   129900, weightGrams: 1200, images: 4,
				options: []optSpec{{"Memory", []optVal{{"16GB", 0}, {"32GB", 20000}}}, {"Storage", []optVal{{"512GB", 0}, {"1TB", 15000}}}}},
			{handle: "slate-11-tablet", title: "Slate 11 Tablet", skuPrefix: "VL-SLATE11", productType: "Tablets", vendor: vendor,
				tags:        []string{"tablet", "stylus", "entertainment"},
				description: "An 11-inch tablet with a 2.5K display and quad speakers, ready for notes, sketches and movies.",
				features:    []string{"11-inch 2.5K 120 Hz display", "Quad speakers with Dolby Atmos", "Stylus support"},
				basePrice:   49900, weightGrams: 480, images: 3,
				options: []optSpec{storage("128GB", "256GB"), {"Connectivity", []optVal{{"Wi-Fi", 0}, {"Wi-Fi + 5G", 12000}}}}},
			{handle: "orbit-smartwatch", title: "Orbit Smartwatch", skuPrefix: "VL-ORBIT", productType: "Wearables", vendor: vendor,
				tags:        []string{"smartwatch", "fitness", "gps"},
				description: "A titanium smartwatch with dual-band GPS, ECG and up to ten days of battery life.",
				features:    []string{"Always-on AMOLED display", "Dual-band GPS", "ECG and SpO2 sensors"},
				basePrice:   34900, saleMarkup: 4000, weightGrams: 45, images: 3,
				options: []optSpec{{"Case size", []optVal{{"41mm", 0}, {"45mm", 3000}}}, color("Midnight", "Starlight")}},
			{handle: "beam-portable-speaker", title: "Beam Portable Speaker", skuPrefix: "VL-BEAM", productType: "Audio", vendor: "Pulse Audio",
				tags:        []string{"speaker", "bluetooth", "waterproof", "outdoor"},
				description: "A rugged, waterproof Bluetooth speaker with 360-degree sound and 20 hours of playtime.",
				features:    []string{"IP67 waterproof and dustproof", "360-degree sound", "20 h battery"},
				basePrice:   12900, weightGrams: 540, images: 2,
				options: []optSpec{color("Black", "Blue", "Red")}},
			{handle: "volt-65w-gan-charger", title: "Volt 65W GaN Charger", skuPrefix: "VL-GAN65", productType: "Accessories", vendor: vendor,
				tags:        []string{"charger", "usb-c", "gan"},
				description: "A compact three-port GaN charger that powers a laptop, phone and earbuds at once.",
				features:    []string{"65 W total output", "2x USB-C, 1x USB-A", "Foldable plug"},
				basePrice:   4900, weightGrams: 110, images: 2,
				options: []optSpec{{"Plug", vals("EU", "UK")}}},
			{handle: "volt-power-bank-20000", title: "Volt Power Bank 20,000 mAh", skuPrefix: "VL-PB20K", productType: "Accessories", vendor: vendor,
				tags:        []string{"power-bank", "usb-c", "travel"},
				description: "A slim 20,000 mAh power bank with 30 W USB-C PD, enough for four phone charges.",
				features:    []string{"20,000 mAh capacity", "30 W USB-C Power Delivery", "Flight-safe"},
				basePrice:   5900, saleMarkup: 1000, weightGrams: 350, images: 2,
				options: []optSpec{color("Black", "White")}},
			{handle: "lumen-4k-monitor", title: "Lumen 4K Monitor", skuPrefix: "VL-LUMEN", productType: "Monitors", vendor: vendor,
				tags:        []string{"monitor", "4k", "usb-c"},
				description: "A factory-calibrated 4K IPS monitor with USB-C 90 W power delivery and a height-adjustable stand.",
				features:    []string{"4K UHD IPS, 99% sRGB", "USB-C with 90 W charging", "Height, tilt and pivot stand"},
				basePrice:   44900, weightGrams: 6200, images: 3,
				options: []optSpec{{"Size", []optVal{{"27\"", 0}, {"32\"", 15000}}}}},
			{handle: "flux-mechanical-keyboard", title: "Flux Mechanical Keyboard", skuPrefix: "VL-FLUX", productType: "Accessories", vendor: vendor,
				tags:        []string{"keyboard", "mechanical", "hot-swap"},
				description: "A 75% aluminium mechanical keyboard with hot-swappable switches and tri-mode connectivity.",
				features:    []string{"Gasket-mounted aluminium case", "Hot-swappable switches", "Bluetooth, 2.4 GHz and USB-C"},
				basePrice:   15900, weightGrams: 1500, images: 4,
				options: []optSpec{{"Layout", vals("ISO-DE", "ISO-UK", "ANSI-US")}, {"Switch", vals("Linear", "Tactile")}}},
			{handle: "nova-x-fold", title: "Nova X Fold", skuPrefix: "VL-NOVAXF", productType: "Smartphones", vendor: vendor,
				tags: []string{"smartphone", "foldable", "coming-soon"}, status: "draft",
				description: "Our first foldable. Unannounced; details subject to change.",
				features:    []string{"7.6-inch foldable display", "Titanium hinge"},
				basePrice:   179900, weightGrams: 250, images: 2,
				options: []optSpec{storage("256GB", "512GB")}},
			{handle: "pulse-buds-1st-gen", title: "Pulse Buds (1st generation)", skuPrefix: "VL-PB1", productType: "Audio", vendor: "Pulse Audio",
				tags: []string{"earbuds", "discontinued"}, status: "archived",
				description: "The original Pulse Buds, replaced by Pulse Buds Pro.",
				features:    []string{"Bluetooth 5.0", "5 h battery"},
				basePrice:   7900, weightGrams: 50, images: 2,
				options: []optSpec{color("White")}},
		},
		collections: []collectionSpec{
			{handle: "smartphones", title: "Smartphones", description: "Flagship and everyday phones from Voltline.",
				products: []string{"nova-x-smartphone", "nova-lite-smartphone", "nova-x-fold"}},
			{handle: "audio", title: "Audio", description: "Headphones, earbuds and speakers.",
				products: []string{"pulse-anc-headphones", "pulse-buds-pro", "beam-portable-speaker", "pulse-buds-1st-gen"}},
			{handle: "work-from-home", title: "Work From Home", description: "Everything for a productive home office.",
				products: []string{"lumen-4k-monitor", "flux-mechanical-keyboard", "aero-14-ultrabook", "pulse-anc-headphones", "volt-65w-gan-charger"}},
			{handle: "travel-essentials", title: "Travel Essentials", description: "Light, portable tech for life on the move.",
				products: []string{"volt-power-bank-20000", "volt-65w-gan-charger", "pulse-buds-pro", "slate-11-tablet", "orbit-smartwatch"}},
			// Read by Next.js Commerce's home page (hidden from its menus).
			{handle: "hidden-homepage-featured-items", title: "Featured", description: "Home page: featured items.",
				products: []string{"nova-x-smartphone", "aero-14-ultrabook", "pulse-anc-headphones"}},
			{handle: "hidden-homepage-carousel", title: "Carousel", description: "Home page: carousel.",
				products: []string{"pulse-buds-pro", "slate-11-tablet", "orbit-smartwatch", "lumen-4k-monitor", "beam-portable-speaker", "volt-power-bank-20000"}},
		},
	}
}

// Demo creates the two demo shops listed in DemoShops ("apparel", USD, and
// "electronics", EUR) with products, options, variants, images, collections,
// warehouses and stock. It is called by the `cartograph seed` command and by
// tests. It is idempotent: a shop whose handle already exists is skipped.
// Each shop is written in its own transaction.
func Demo(ctx context.Context, db *pgxpool.Pool) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, spec := range demoShops() {
		exists, err := shopExists(ctx, db, spec.handle)
		if err != nil {
			return err
		}
		if exists {
			continue
		}
		c, err := buildDemo(spec, now)
		if err != nil {
			return err
		}
		if err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			if _, err := c.write(ctx, tx); err != nil {
				return err
			}
			// Its online-store content: menus, pages, policies, a blog.
			if _, err := tx.Exec(ctx, `SELECT set_config('app.shop_id', $1, true)`, c.shop.id.String()); err != nil {
				return err
			}
			return content.SeedDemo(ctx, tx, c.shop.id, c.shop.name)
		}); err != nil {
			return fmt.Errorf("seed: demo shop %q: %w", spec.handle, err)
		}
	}
	return nil
}

// skuCode turns an option value into an upper-case alphanumeric SKU segment.
func skuCode(v string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(v) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cartesian returns every combination of one value index per option, the
// first option varying slowest.
func cartesian(opts []optSpec) [][]int {
	combos := [][]int{{}}
	for _, o := range opts {
		var next [][]int
		for _, c := range combos {
			for j := range o.values {
				next = append(next, append(append([]int(nil), c...), j))
			}
		}
		combos = next
	}
	return combos
}

// buildDemo expands a shop spec into rows. now anchors the timestamps:
// product i is created i+1 minutes before now, so creation order is strict.
func buildDemo(spec shopSpec, now time.Time) (*catalog, error) {
	var g idGen
	c := &catalog{shop: shopRow{
		id: g.next(), handle: spec.handle, name: spec.name,
		customDomain: ptr(spec.domain), currency: spec.currency,
	}}
	cdn := strings.TrimRight(ImageBaseURL, "/") + demoimages.Path + spec.handle + "-"
	productIDs := make(map[string]int, len(spec.products))
	n := len(spec.products)

	for i, p := range spec.products {
		productIDs[p.handle] = i
		status := p.status
		if status == "" {
			status = "active"
		}
		var h strings.Builder
		h.WriteString("<p>" + html.EscapeString(p.description) + "</p>")
		if len(p.features) > 0 {
			h.WriteString("<ul>")
			for _, f := range p.features {
				h.WriteString("<li>" + html.EscapeString(f) + "</li>")
			}
			h.WriteString("</ul>")
		}
		desc := p.description
		if len(p.features) > 0 {
			desc += "\n\n" + strings.Join(p.features, ". ") + "."
		}
		pr := productRow{
			id: g.next(), handle: p.handle, title: p.title,
			description: desc, descriptionHTML: h.String(), status: status,
			productType: p.productType, vendor: p.vendor, tags: p.tags,
			seoTitle:       ptr(p.title + " | " + spec.name),
			seoDescription: ptr(p.description),
			createdAt:      now.Add(-time.Duration(i+1) * time.Minute),
			// A different permutation than created_at, so UPDATED_AT and
			// CREATED_AT sorts give different orders.
			updatedAt: now.Add(-time.Duration((i*5)%n+1) * time.Second),
		}
		c.products = append(c.products, pr)

		var names []string
		colorOpt := -1
		for j, o := range p.options {
			vs := make([]string, len(o.values))
			for k, v := range o.values {
				vs[k] = v.name
			}
			names = append(names, o.name)
			if o.name == "Color" {
				colorOpt = j
			}
			c.options = append(c.options, optionRow{id: g.next(), productID: pr.id, name: o.name, position: int32(j + 1), values: vs})
		}

		imgs := make([]imageRow, p.images)
		for k := range imgs {
			imgs[k] = imageRow{
				id: g.next(), productID: pr.id,
				url:     fmt.Sprintf("%s%s-%d.png", cdn, p.handle, k+1),
				altText: ptr(fmt.Sprintf("%s, view %d", p.title, k+1)),
				width:   1200, height: 1600, position: int32(k + 1),
			}
		}
		c.images = append(c.images, imgs...)

		for pos, combo := range cartesian(p.options) {
			values := make([]string, len(combo))
			codes := []string{p.skuPrefix}
			price := p.basePrice
			for j, k := range combo {
				v := p.options[j].values[k]
				values[j] = v.name
				codes = append(codes, skuCode(v.name))
				price += v.surcharge
			}
			v := variantRow{
				id: g.next(), productID: pr.id,
				title:    strings.Join(values, " / "),
				sku:      strings.Join(codes, "-"),
				position: int32(pos + 1), optionNames: names, optionValues: values,
				price: price, weightGrams: p.weightGrams,
			}
			if p.saleMarkup > 0 {
				v.compareAt = ptr(price + p.saleMarkup)
			}
			if colorOpt >= 0 {
				v.imageID = &imgs[combo[colorOpt]%len(imgs)].id
			} else if pos == 0 {
				v.imageID = &imgs[0].id
			}
			c.variants = append(c.variants, v)
		}
	}

	for i, cs := range spec.collections {
		k := collectionRow{
			id: g.next(), handle: cs.handle, title: cs.title,
			description:     cs.description,
			descriptionHTML: "<p>" + html.EscapeString(cs.description) + "</p>",
			seoTitle:        ptr(cs.title + " | " + spec.name),
			seoDescription:  ptr(cs.description),
			imageURL:        ptr(cdn + "collection-" + cs.handle + ".png"),
			createdAt:       now.Add(-time.Duration(i+1) * time.Hour),
			updatedAt:       now.Add(-time.Duration(len(spec.collections)-i) * time.Minute),
		}
		c.collections = append(c.collections, k)
		for pos, h := range cs.products {
			pi, ok := productIDs[h]
			if !ok {
				return nil, fmt.Errorf("seed: collection %q references unknown product %q", cs.handle, h)
			}
			c.collectionProducts = append(c.collectionProducts, collectionProductRow{
				collectionID: k.id, productID: c.products[pi].id, position: int32(pos + 1),
			})
		}
	}

	mainWH := warehouseRow{id: g.next(), name: "Main warehouse", priority: 0}
	overflowWH := warehouseRow{id: g.next(), name: "Overflow warehouse", priority: 1}
	c.warehouses = []warehouseRow{mainWH, overflowWH}
	for i, v := range c.variants {
		// Deterministic spread of stock; every ninth variant is sold out.
		onMain := int32((i*37 + 11) % 60)
		onOverflow := int32((i * 13) % 25)
		if i%9 == 4 {
			onMain, onOverflow = 0, 0
		}
		c.inventory = append(c.inventory,
			inventoryRow{variantID: v.id, warehouseID: mainWH.id, onHand: onMain},
			inventoryRow{variantID: v.id, warehouseID: overflowWH.id, onHand: onOverflow})
	}
	if g.err != nil {
		return nil, g.err
	}
	return c, nil
}
